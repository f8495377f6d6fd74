//! `cargo bench -p mock-bank --bench ledger`: ledger generation cost (being written).
fn main() {}
