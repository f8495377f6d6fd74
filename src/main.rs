//! The bankgate CLI (being written).
fn main() {}
