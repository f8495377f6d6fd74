//! (being written by the API work) The bank's books: generated ledgers, cached, with persisted overlays.
#[derive(Debug)]
pub struct Books;
