//! Integration tests of the mock bank (one test binary; modules per area).
mod admin;
mod api;
mod faults;
mod login;
mod realism;
mod support;
