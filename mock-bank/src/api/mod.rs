//! (being written by the API work) FDX and admin APIs.
