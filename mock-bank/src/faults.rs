//! (being written by the API work) Fault injection.
#[derive(Debug, Default)]
pub struct FaultBook;
