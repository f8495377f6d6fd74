//! (being written by the API work) Persistence of what changes the generated base.
#[derive(Debug, Clone)]
pub struct BankStore;
